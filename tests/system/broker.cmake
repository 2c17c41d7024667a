# ccm-broker against peers written independently of lib/ (Python, frames by hand):
# 7/MDP + 8/MMI conformance, and bad input. Each starts its own broker on free
# loopback ports; the heartbeat-expiry case needs ~9 s.
add_test(NAME system_mdp_conformance
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/test_mdp_conformance.py ${PROJECT_BINARY_DIR})
add_test(NAME system_broker_bad_input
         COMMAND ${CCM_PY} ${CMAKE_CURRENT_LIST_DIR}/broker_bad_input.py ${PROJECT_BINARY_DIR})
set_tests_properties(system_mdp_conformance system_broker_bad_input PROPERTIES TIMEOUT 120)
