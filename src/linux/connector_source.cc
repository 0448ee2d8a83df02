#include "linux/connector_source.h"

#include <cstdio>

namespace gpc {

Status ConnectorEventSource::Open(size_t rcvbuf_bytes, bool exit_accounting,
                                  size_t cpus) {
  GPC_ASSIGN_OR_RETURN(connector_, ProcConnector::Open(rcvbuf_bytes));
  if (exit_accounting) {
    auto ts = TaskstatsListener::Open(cpus, 4u << 20);
    if (ts.ok()) {
      taskstats_ = std::move(ts).value();
    } else {
      std::fprintf(stderr,
                   "gpc: taskstats unavailable (%s): exit times come from "
                   "the last sample only\n",
                   ts.error().ToString().c_str());
    }
  }
  return OkStatus();
}

TaskEventCounters ConnectorEventSource::counters() const {
  const ConnectorCounters& c = connector_->counters();
  return {.overflows = c.overflows,
          .seq_missing = c.seq_missing,
          .socket_drops = c.socket_drops,
          .exit_record_overflows = taskstats_ ? taskstats_->overflows() : 0};
}

void ConnectorEventSource::ReadExitRecords(std::vector<TaskExitStats>* out) {
  if (!taskstats_) return;
  size_t before = out->size();
  // A failed read adds nothing, as before the split: a record is applied
  // only from a read that succeeded.
  if (!taskstats_->Read(out).ok()) out->resize(before);
}

}  // namespace gpc
