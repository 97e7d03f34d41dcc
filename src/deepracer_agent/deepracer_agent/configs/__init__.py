"""YAML configs shipped with deepracer_agent (a package so setup.py package_data installs the *.yaml)."""
