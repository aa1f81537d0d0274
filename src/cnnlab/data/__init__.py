"""Data sources, the uint8 tensor cache, batched loaders and batched augmentation."""
