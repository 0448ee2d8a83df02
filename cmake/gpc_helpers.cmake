# Small helpers in the spirit of absl_cc_library: every component is one
# declared target with explicit dependencies, so a layering violation (core
# including FUSE, say) is a missing-symbol error instead of a review comment.

# Include directories are per folder, not the whole of src/: a target sees
# "core/..." only if it links a library of src/core. Each folder's headers
# are exposed through a directory of links made at configure time:
#   ${GPC_INCLUDE_ROOT}/<folder>/<folder>/<header>   its public headers,
#   ${GPC_INTERNAL_ROOT}/<folder>/<folder>/<header>  its *_internal.h ones,
# the first PUBLIC (it follows the link graph), the second PRIVATE (only the
# folder's own libraries). Including a folder the target does not link, or
# another folder's internal header, is then a compile error.
set(GPC_INCLUDE_ROOT ${PROJECT_BINARY_DIR}/include)
set(GPC_INTERNAL_ROOT ${PROJECT_BINARY_DIR}/include_internal)

function(gpc_expose_folder folder)
  get_property(done GLOBAL PROPERTY GPC_EXPOSED_${folder})
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY GPC_EXPOSED_${folder} TRUE)
  set(src_dir ${PROJECT_SOURCE_DIR}/src/${folder})
  file(REMOVE_RECURSE ${GPC_INCLUDE_ROOT}/${folder}
                      ${GPC_INTERNAL_ROOT}/${folder})
  file(GLOB headers CONFIGURE_DEPENDS RELATIVE ${src_dir}
       ${src_dir}/*.h ${src_dir}/*.def)
  foreach(header IN LISTS headers)
    if(header MATCHES "_internal\\.h$")
      set(root ${GPC_INTERNAL_ROOT})
    else()
      set(root ${GPC_INCLUDE_ROOT})
    endif()
    file(MAKE_DIRECTORY ${root}/${folder}/${folder})
    file(CREATE_LINK ${src_dir}/${header} ${root}/${folder}/${folder}/${header}
         SYMBOLIC)
  endforeach()
endfunction()

# gpc_library(NAME <name> SRCS <files...> [HDRS ...] [DEPS <targets...>])
# The folder is the one the calling CMakeLists.txt is in (src/<folder>).
function(gpc_library)
  cmake_parse_arguments(L "" "NAME" "SRCS;HDRS;DEPS" ${ARGN})
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR}/src
       ${CMAKE_CURRENT_SOURCE_DIR})
  gpc_expose_folder(${folder})
  if(L_SRCS)
    add_library(${L_NAME} STATIC ${L_SRCS} ${L_HDRS})
    target_include_directories(${L_NAME} PUBLIC ${GPC_INCLUDE_ROOT}/${folder})
    if(EXISTS ${GPC_INTERNAL_ROOT}/${folder})
      target_include_directories(${L_NAME}
                                 PRIVATE ${GPC_INTERNAL_ROOT}/${folder})
    endif()
    target_link_libraries(${L_NAME} PUBLIC ${L_DEPS})
  else()
    add_library(${L_NAME} INTERFACE)
    target_include_directories(${L_NAME} INTERFACE ${GPC_INCLUDE_ROOT}/${folder})
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
  # Every test may use the header-only helpers of src/testing.
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} gpc_test_support
                                          GTest::gmock GTest::gtest_main)
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
