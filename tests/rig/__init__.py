"""The JACK test rig: a private dummy-driver server and the virtual child."""
