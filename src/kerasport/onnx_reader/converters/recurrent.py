"""LSTM, GRU and RNN (forward, reverse, bidirectional) as the IR's batch-major recurrent ops."""
