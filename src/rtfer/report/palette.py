"""Colour-blind-safe colours per emotion (Okabe & Ito 2008), shared by plots, video and the app."""

EMOTION_COLORS: dict[str, str] = {
    "angry": "#D55E00",     # vermillion
    "contempt": "#CC79A7",  # reddish purple
    "disgust": "#009E73",   # bluish green
    "fear": "#56B4E9",      # sky blue
    "happy": "#E69F00",     # orange
    "sad": "#0072B2",       # blue
    "surprise": "#F0E442",  # yellow
    "neutral": "#999999",   # grey
    "negative": "#0072B2",
    "positive": "#E69F00",
}


def bgr(name: str) -> tuple[int, int, int]:
    """The colour of an emotion as an OpenCV BGR tuple."""
    value = EMOTION_COLORS.get(name, "#FFFFFF").lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return b, g, r
