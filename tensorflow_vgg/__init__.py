"""VGG16: its layer table (layers.py), the network (vgg16_avg_pool.py) and its weights (weights.py)."""
