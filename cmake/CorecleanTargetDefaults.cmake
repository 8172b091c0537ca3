# coreclean_target_defaults(target): the one place where per-target settings live.
#
# CORECLEAN_SANITIZE (ON/OFF) adds AddressSanitizer + UndefinedBehaviorSanitizer to every target
# (UB is fatal: -fno-sanitize-recover); CORECLEAN_BUILD_FUZZERS adds libFuzzer's coverage
# instrumentation (clang) so that the harnesses in fuzz/ see inside the libraries. Both are
# per-target options here, never global flags.
function(coreclean_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES
    CXX_EXTENSIONS OFF
    POSITION_INDEPENDENT_CODE ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic>
    $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  if(CORECLEAN_SANITIZE OR CORECLEAN_BUILD_FUZZERS)
    set(sanitizers -fsanitize=address,undefined -fno-sanitize-recover=undefined
                   -fno-omit-frame-pointer)
    target_compile_options(${target} PRIVATE ${sanitizers})
    # PUBLIC: a static library's sanitizer runtime is linked by whatever links it.
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(CORECLEAN_BUILD_FUZZERS)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer-no-link)
  endif()
endfunction()
