"""rtfer: real-time facial emotion recognition (MSFERNet + RT-FER, compact VGG-S)."""

__version__ = "0.1.0"
