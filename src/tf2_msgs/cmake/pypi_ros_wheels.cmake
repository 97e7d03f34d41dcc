# Build fixes for rosidl interface packages built against the PyPI ROS 2 wheels (Jazzy).
# Kept identical in src/tf2_msgs and src/ackermann_msgs (a test compares them); on a ROS
# installation both steps change nothing.
#
# pypi_ros_wheels_prefix_path(): the wheels install into the virtualenv's prefix but set no
#   AMENT_PREFIX_PATH, and rosidl finds its generators and typesupports through the ament index:
#   add the prefix holding ament_cmake (<prefix>/share/ament_cmake/cmake) when the index lacks it.
#   Call after find_package(ament_cmake), before find_package(rosidl_default_generators).
# pypi_ros_wheels_drop_missing_includes(): the wheels' exported <pkg>__rosidl_generator_py
#   targets name the include folders of the machine that built them
#   (/opt/python/cp311-cp311/include/python3.11 and its numpy), which CMake refuses at generate
#   time; drop include folders that do not exist here (this package's own Python target adds the
#   local Python and numpy headers). Call after rosidl_generate_interfaces().

macro(pypi_ros_wheels_prefix_path)
  get_filename_component(_pypi_ros_prefix "${ament_cmake_DIR}/../../.." ABSOLUTE)
  if(NOT ":$ENV{AMENT_PREFIX_PATH}:" MATCHES ":${_pypi_ros_prefix}:")
    set(ENV{AMENT_PREFIX_PATH} "$ENV{AMENT_PREFIX_PATH}:${_pypi_ros_prefix}")
  endif()
endmacro()

function(pypi_ros_wheels_drop_missing_includes)
  get_property(_targets DIRECTORY PROPERTY IMPORTED_TARGETS)
  foreach(_target IN LISTS _targets)
    get_target_property(_dirs ${_target} INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT _dirs)
      continue()
    endif()
    set(_kept "")
    set(_dropped FALSE)
    foreach(_dir IN LISTS _dirs)
      if(_dir MATCHES "^\\$<" OR EXISTS "${_dir}")
        list(APPEND _kept "${_dir}")
      else()
        set(_dropped TRUE)
      endif()
    endforeach()
    if(_dropped)
      set_property(TARGET ${_target} PROPERTY INTERFACE_INCLUDE_DIRECTORIES "${_kept}")
    endif()
  endforeach()
endfunction()
