// The control socket's protocol: one JSON object per line each way.
//
//   -> {"op":"mount","options":"cpuset,cpuacct","dir":"/mnt/x"}
//   <- {"ok":true,"hierarchy":3}
//   <- {"ok":false,"errno":16,"error":"EBUSY","message":"subsystem ..."}
//
// Operations (control/control_ops.def lists them with the fields each
// takes and who may ask): ping, status, mount {options, dir}, remount
// {options, dir, dev}, umount {dir, dev}, shutdown, events, subsystems (each
// subsystem with its description, hierarchy and control files: name,
// access, label, help), gate {pid} (a supervised tree's seccomp listener and
// journal attached as SCM_RIGHTS fds; see daemon/fork_gate.h), task {pid}
// (whether its forks are supervised, and why not: {"supervision":...,
// "reason":...}), mounted {dev or errno} (only within a mount, below).
// Changing mounts needs uid 0 (checked with SO_PEERCRED), as mount(2) needs
// CAP_SYS_ADMIN.
//
// A mount in the caller's mount namespace (mount.gpc, `gpc mount`) is a
// conversation on one connection, the way fusermount hands a mounted
// /dev/fuse to a FUSE daemon (daemon/mount_client.h has the caller's side):
//   -> {"op":"mount","options":"cpuset","dir":"/x"}  + a /dev/fuse fd
//      ("dev": the gpc mount on top at dir, if there is one)
//   <- {"ok":true,"source":"cpuset"}       options valid, hierarchy held
//      (EBUSY when that mount is of the same hierarchy)
//      (the caller mounts the fd at dir with mount(2), in its namespace)
//   -> {"op":"mounted","dev":"0:55"}  or  {"op":"mounted","errno":13}
//   <- {"ok":true,"hierarchy":3}           served; or an error, after
//                                          which the caller unmounts
// Without a descriptor, "mount" mounts in gpcd's own namespace (its
// configured mounts and older clients). remount and umount name a mount
// by its device ("dev", from the caller's mountinfo) where given, else by
// dir in gpcd's namespace.
//
// "events" keeps the connection open: after {"ok":true} the daemon writes
// one line per container event, for every user —
//   {"event":"emptied","hierarchy":1,"container":7,"path":"/a/b",
//    "mounts":["/run/gpc/debug"]}
// with event one of created, removed, populated, emptied, release. It is
// the pollable notification that needs no release agent: poll(2) the
// socket. A subscriber that does not read (its socket buffer full) is
// disconnected rather than slowing the daemon; it can reconnect and resync
// from the file system.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "control/control_ops.h"
#include "control/fd_passing.h"  // UnixSocketAddress
#include "util/result.h"

namespace gpc {

struct ControlRequest {
  ControlOp op = ControlOp::kPing;
  std::string options;
  std::string dir;
  // "gate": the supervised task whose seccomp listener (and journal) come
  // with the request as SCM_RIGHTS fds; the connection then stays open
  // while gpcd serves that listener (see daemon/fork_gate.h).
  pid_t pid = 0;
  // remount, umount, mounted: the mount's device, "MAJOR:MINOR" as in
  // /proc/PID/mountinfo.
  std::string dev = "";
  // mounted: the errno of the caller's mount(2); 0 = mounted.
  int error = 0;
};

// "MAJOR:MINOR", both decimal.
bool ValidMountDev(std::string_view dev);

// A request line is at most this long; longer ones are E2BIG.
constexpr size_t kMaxRequestBytes = 64 * 1024;

// Reads the fields kControlOps gives the request's op. EINVAL for
// malformed JSON, a non-object, an unknown op, missing or mistyped fields;
// E2BIG for an oversized line.
Result<ControlRequest> ParseControlRequest(std::string_view line);
// The request as one line's JSON (no newline): every field that is set, and
// "options" when its op requires them, even empty.
std::string FormatControlRequest(const ControlRequest& request);

// gpcd's reply lines (without the newline): {"ok":true} with `fields`
// added, or {"ok":false,"errno":N,"error":"ENAME","message":"..."}.
std::string OkReply();
std::string OkReply(nlohmann::json fields);
std::string ErrorReply(const Error& error);

// A stream socket (close-on-exec) connected to gpcd at `socket_path`.
// ECONNREFUSED/ENOENT when no daemon listens.
Result<int> ConnectToDaemon(const std::string& socket_path);

// Writes all of `data` to the socket, retrying short writes and EINTR.
// MSG_NOSIGNAL: a peer that hung up is EPIPE, not a SIGPIPE.
Status SendAll(int fd, std::string_view data);

// Reads up to the first '\n' and returns the line without it; what came
// after it in the same read is dropped (for request/reply exchanges, where
// nothing follows the reply). EPROTO when the stream ends before a newline;
// with timeout_ms >= 0, ETIMEDOUT when no byte arrives for that long.
Result<std::string> ReadLine(int fd, int timeout_ms = -1);

// Sends one request and reads one response line (a JSON object text).
// ECONNREFUSED/ENOENT when no daemon listens.
Result<std::string> CallDaemon(const std::string& socket_path,
                               const ControlRequest& request);

}  // namespace gpc
