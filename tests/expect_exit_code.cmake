# cmake -DEXPECTED=<code> -DHIDE_GPUS=1 -DREQUIRE_GPU=0|1 -P expect_exit_code.cmake -- <command> [args...]
# Runs the command and fails unless it exits with EXPECTED. HIDE_GPUS makes every CUDA
# device invisible (CUDA_VISIBLE_DEVICES=-1), so the no-device paths can be tested on any
# machine, GPU machines included.
set(command "")
set(collect OFF)
foreach(i RANGE ${CMAKE_ARGC})
  if(collect)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(collect ON)
  endif()
endforeach()
if(HIDE_GPUS)
  set(ENV{CUDA_VISIBLE_DEVICES} "-1")
endif()
set(ENV{GDR_REQUIRE_GPU} "${REQUIRE_GPU}")
execute_process(COMMAND ${command} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT "${code}" STREQUAL "${EXPECTED}")
  message(FATAL_ERROR "expected exit code ${EXPECTED}, got ${code}: ${command}")
endif()
