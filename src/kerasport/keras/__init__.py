"""Reading Keras files (Keras 2 and 3, .keras and .h5) without TensorFlow or Keras."""
