# `cmake --install`: the gdr tool, the public headers, the libraries and a package
# configuration, so that another project can say
#   find_package(gdr REQUIRED)
#   target_link_libraries(app PRIVATE gdr::reference gdr::cuda)
# Targets are exported as gdr::<folder>: core, reference, harness, subject_registry,
# subjects, fuzz, mutation, and in CUDA builds cuda and cuda_mutants.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(gdr_exported_libraries gdr_core gdr_reference gdr_harness gdr_subject_registry gdr_subjects gdr_fuzz gdr_mutation)
if(GDR_HAVE_CUDA)
  list(APPEND gdr_exported_libraries gdr_cuda gdr_cuda_mutants)
endif()
foreach(library IN LISTS gdr_exported_libraries)
  string(REGEX REPLACE "^gdr_" "" export_name ${library})
  set_target_properties(${library} PROPERTIES EXPORT_NAME ${export_name})
endforeach()

install(TARGETS ${gdr_exported_libraries} EXPORT gdrTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS gdr RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Each library's public headers live in <folder>/include/gdr/<folder>/.
foreach(folder core reference harness subjects fuzz mutation)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
if(GDR_HAVE_CUDA)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/cuda/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

set(gdr_config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/gdr)
install(EXPORT gdrTargets NAMESPACE gdr:: DESTINATION ${gdr_config_dir})
set(GDR_CONFIG_HAVE_CUDA ${GDR_HAVE_CUDA})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/gdrConfig.cmake.in ${PROJECT_BINARY_DIR}/gdrConfig.cmake
                              INSTALL_DESTINATION ${gdr_config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gdrConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gdrConfig.cmake ${PROJECT_BINARY_DIR}/gdrConfigVersion.cmake
        DESTINATION ${gdr_config_dir})
