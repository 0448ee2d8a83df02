# Small helpers in the spirit of absl_cc_library: every component is one
# declared target with explicit dependencies, so a layering violation (core
# including FUSE, say) is a missing-symbol error instead of a review comment.

# gpc_library(NAME <name> SRCS <files...> [HDRS ...] [DEPS <targets...>])
function(gpc_library)
  cmake_parse_arguments(L "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  if(L_SRCS)
    add_library(${L_NAME} STATIC ${L_SRCS} ${L_HDRS})
    target_include_directories(${L_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${L_NAME} PUBLIC ${L_DEPS})
  else()
    add_library(${L_NAME} INTERFACE)
    target_include_directories(${L_NAME} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${L_NAME} INTERFACE ${L_DEPS})
  endif()
  add_library(gpc::${L_NAME} ALIAS ${L_NAME})
endfunction()

# gpc_test(NAME <name> SRCS <files...> [DEPS ...] [LABELS ...] [TIMEOUT s])
# Labels: "unit", "scenario", "model", "system" (needs root), "concurrent".
function(gpc_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT GPC_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
endfunction()

# gpc_fuzzer(NAME <name> SRCS <files...> DEPS ...)
# Built only with clang and GPC_BUILD_FUZZERS=ON (libFuzzer). Outside that
# build, the same target links a small driver that replays the seed corpus, so
# every fuzz target is still compiled and run by ctest.
function(gpc_fuzzer)
  cmake_parse_arguments(F "" "NAME;CORPUS" "SRCS;DEPS" ${ARGN})
  add_executable(${F_NAME} ${F_SRCS})
  target_link_libraries(${F_NAME} PRIVATE ${F_DEPS})
  # `cmake --build ... --target fuzzers` builds every target.
  if(NOT TARGET fuzzers)
    add_custom_target(fuzzers)
  endif()
  add_dependencies(fuzzers ${F_NAME})
  if(GPC_BUILD_FUZZERS)
    target_compile_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
    target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${F_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
  endif()
  if(GPC_BUILD_TESTS AND F_CORPUS)
    # A libFuzzer binary replays a corpus directory with -runs=0 (without
    # it, it would start fuzzing); the replay_main.cc one takes it as is.
    set(replay_flags)
    if(GPC_BUILD_FUZZERS)
      set(replay_flags -runs=0)
    endif()
    add_test(NAME ${F_NAME}_replay
             COMMAND ${F_NAME} ${replay_flags}
                     ${PROJECT_SOURCE_DIR}/fuzz/corpus/${F_CORPUS})
    set_tests_properties(${F_NAME}_replay PROPERTIES LABELS "fuzz" TIMEOUT 120)
  endif()
endfunction()
