# gdr_discover_tests(<target> TEST_SPEC <catch spec> LABELS <label>...)
# Registers the Catch2 test cases of <target> that match TEST_SPEC as ctest tests with
# every label given and SKIP_RETURN_CODE 77. Catch2 2.13's catch_discover_tests passes
# only the first list element of PROPERTIES, so the labels are set by a second
# TEST_INCLUDE_FILES script that runs after discovery, over the discovered test list.
include(Catch)

# Arguments of every Catch run that ctest makes: a filter that matches no test case fails
# (Catch 2.13 exits 0 on "No test cases matched" without it).
set(GDR_CATCH_EXTRA_ARGS --warn NoTests)

function(gdr_discover_tests target)
  cmake_parse_arguments(arg "" "TEST_SPEC;NAME" "LABELS" ${ARGN})
  set(list_var "${target}_${arg_NAME}_TESTS")
  catch_discover_tests(${target} TEST_SPEC "${arg_TEST_SPEC}" TEST_LIST ${list_var} EXTRA_ARGS ${GDR_CATCH_EXTRA_ARGS})
  set(script "${CMAKE_CURRENT_BINARY_DIR}/${target}_${arg_NAME}_labels.cmake")
  file(WRITE "${script}"
    "foreach(test_name IN LISTS ${list_var})\n"
    "  set_tests_properties(\"\${test_name}\" PROPERTIES LABELS \"${arg_LABELS}\" SKIP_RETURN_CODE 77)\n"
    "endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${script}")
endfunction()
