# bench_cdr.py: phone-system import through the real stack (broker, enrollment,
# timetrack, ccm-cdr), one busy staff id vs 100 staff; prints records/s and
# resends. Run it by hand:  tests/bench/bench_cdr.py build --calls 10000
# CTest runs only its correctness, at a tiny size: every call lands once, the
# shared line's entries are flagged as overlapping.
add_test(NAME cdr_bench_check
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/bench_cdr.py ${PROJECT_BINARY_DIR}
                 --calls 100 --staff 5 --check)
set_tests_properties(cdr_bench_check PROPERTIES TIMEOUT 600)
