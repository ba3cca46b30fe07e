"""How the picture is optimised, apart from the paper's loss: the run's settings with their
defaults and rules, where a run starts, L-BFGS on the box [0, 1], and the float32/bfloat16
schedule, the preconditioner of L-BFGS. NumPy only (and OpenCV's blur, loaded when a run uses
it): the command line reads it before TensorFlow is loaded.
"""
