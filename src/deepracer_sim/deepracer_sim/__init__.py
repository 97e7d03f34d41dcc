"""Embedded batched DeepRacer simulator (dynamics, camera renderer, domain randomization), its ROS node and Gazebo worlds."""
