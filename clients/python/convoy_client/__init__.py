"""convoy_client — a small Python client for convoyd (design.md §2).

    from convoy_client import Client
    c = Client("http://127.0.0.1:8080")
    out = c.run("dwt", {"x": volume}, wavelet="db4", level=3)   # dict of numpy arrays
    coeffs = to_pywt(out)                                       # pywt.wavedecn's list
    job = c.submit("dwt", {"x": volume}, wavelet="haar")        # async handle
    job.wait(); job.result()

Arrays travel as .npy parts of a multipart body (or as tensor:/file: references),
results come back as .npz. Errors raise ConvoyError with the server's code,
message and field.
"""
from .client import Client, ConvoyError, Job, from_pywt, to_pywt

__all__ = ["Client", "ConvoyError", "Job", "to_pywt", "from_pywt"]
