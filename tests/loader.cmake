# The loader under hostile files and absurd configs (issue 18): FIFOs and links out of the model
# folder, NUL in JSON, safetensors rules of the reference library (with a 100k-entry header in
# bounded time), absurd config sizes, models larger than memory, zip central directories outside
# the file. Cases that could hang run in a child under an alarm.
am_add_test(test_loader_hostile SOURCES ${CMAKE_SOURCE_DIR}/tests/test_loader_hostile.c)
