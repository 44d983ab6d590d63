"""The convolution playground's arithmetic in NumPy: convolution and pooling step by step (ops), named kernels
(kernels), sample images and channel picking (images). No torch; everything above may use it."""
