"""VGG16: its layer table (layers.py), the network (vgg16_avg_pool.py), its weights (weights.py)
and Winograd's convolution (winograd.py), which the network can use."""
