# The billing handlers through the worker host, without sockets: report growth,
# APCM months from documented elements, holder rows of older stores.
ccm_unit_test(test_billing ${CMAKE_CURRENT_LIST_DIR}/test_billing.c LIBS ccm_billing)
target_compile_definitions(test_billing PRIVATE
  CCM_FEES_DIR_DEFAULT="${PROJECT_SOURCE_DIR}/deploy/fees")
