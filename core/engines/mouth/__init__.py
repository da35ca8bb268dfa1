"""The warp engine's painted mouth interior: teeth, tongue, cavity, matched to the photo."""
