# CURVE authentication and principals end to end: keys made by ccmctl keygen,
# the broker with an allow directory, every service and client with its key
# (real processes; a hand-built Python 7/MDP worker as the rogue).
add_test(NAME system_security
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_security.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_security PROPERTIES TIMEOUT 600)
