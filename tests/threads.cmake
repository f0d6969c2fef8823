# Models shared between threads (docs/ARCHITECTURE.md, "Threading and ownership"): 4 application
# threads on one model each for BERT, GPT-2, T5 and Llama (dynamic RoPE), bit-identical to one
# thread; eviction under use; training-mode dropout rules.
am_add_test(test_threads SOURCES ${CMAKE_SOURCE_DIR}/tests/test_threads.c LABELS fast)
if(AM_TSAN)
  # ThreadSanitizer (scripts/test.sh builds only the library and this test with -DAM_TSAN=ON).
  # TSAN_OPTIONS: ignore_noninstrumented_modules=1 is the one allowance, for uninstrumented
  # third-party code only: the OpenMP runtime (libomp) and oneDNN are not built with TSan, and
  # libomp hands a finished thread's descriptor to the next application thread with
  # synchronisation TSan cannot see (reported as a race on memset inside omp_set_num_threads).
  # Our own code stays fully checked. No suppression file.
  set(_tsan "TSAN_OPTIONS=ignore_noninstrumented_modules=1:second_deadlock_stack=1:history_size=4")
  # 1) AM_NUM_THREADS=1: each model call runs on its application thread alone (no OpenMP team), so
  #    every access the 4 sharing threads make is seen by TSan.
  set_tests_properties(test_threads PROPERTIES ENVIRONMENT "${AM_TEST_ENV};${_tsan};AM_NUM_THREADS=1" TIMEOUT 900)
  # 2) AM_NUM_THREADS=2 with LLVM's Archer OMPT tool, which gives TSan OpenMP's own
  #    synchronisation (fork/join, barriers), so the kernels' OpenMP workers are checked too.
  find_library(AM_ARCHER_LIB NAMES archer PATHS /usr/lib/llvm-14/lib /usr/lib/llvm-15/lib /usr/lib/llvm-16/lib NO_DEFAULT_PATH)
  if(AM_ARCHER_LIB)
    add_test(NAME test_threads_omp COMMAND test_threads)
    set_tests_properties(test_threads_omp PROPERTIES LABELS fast TIMEOUT 900
      ENVIRONMENT "${AM_TEST_ENV};${_tsan};AM_NUM_THREADS=2;OMP_TOOL_LIBRARIES=${AM_ARCHER_LIB}")
  endif()
endif()
