import streamlit as st

from ui.lesson.nav import page_link
from ui.lesson.presenting import intro

st.title("CNN Lab")
intro(
    """
A convolutional neural network (CNN) learns small filters that slide over an image, and stacks
them so that later layers see larger and more abstract patterns. This lab lets you take one apart
and build your own, **without writing code**: every number it shows is the number PyTorch computes.

Follow the pages in order, or jump to the one you need:
"""
)
steps = [
    ("app_pages/dataset.py", "1. Dataset", "make synthetic shapes (and make them hard), or load real handwritten digits."),
    ("app_pages/convolution.py", "2. Convolution", "slide a kernel over an image and see every product and sum, "
     "then pool the result."),
    ("app_pages/architecture.py", "3. Architecture", "design a CNN by blocks or layer by layer and see every layer's shape, "
     "parameters, cost and receptive field, and where a design breaks."),
    ("app_pages/training.py", "4. Training", "train the network in the background and watch its loss and accuracy "
     "curves live."),
    ("app_pages/evaluation.py", "5. Evaluation", "score the trained model on unseen images, see its mistakes, filters, "
     "feature maps and Grad-CAM."),
    ("app_pages/experiments.py", "6. Experiments", "answer the notebook's exercises (deeper? stride or pooling? "
     "augmentation?) over several seeds, with a verdict that respects noise, and sweep hyperparameters."),
    ("app_pages/board.py", "7. Class board", "every model trained on this server, ranked in a class challenge; load a "
     "classmate's settings and try to beat them."),
]
for path, label, what in steps:  # a link can't wrap (Streamlit cuts it to one line): the description goes below it
    with st.container(gap=None):
        page_link(path, label=f"**{label}**")
        st.caption(what)
st.caption("Everything runs on this server: no data or weights are downloaded.")
