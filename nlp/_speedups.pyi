# Types of the compiled module built from _speedups.c (see nlp/features.py, which falls back when it is absent).
from collections.abc import Callable, Sequence

SOURCE_SHA256: str  # of the _speedups.c it was built from (setup.py)

def word_counts(
    token_lists: Sequence[Sequence[str]],
    negators: frozenset[str],
    polarity: dict[str, str],
    scope: int,
    n_features: int,
    /,
) -> tuple[bytearray, bytearray, bytearray]: ...
def char_counts(
    texts: Sequence[str], n_max: int, n_features: int, clean: Callable[[str], str] | None, /
) -> tuple[bytearray, bytearray, bytearray]: ...
def weighted_rows(
    w_indptr: object,
    w_indices: object,
    w_data: object,
    w_scale: object,
    c_indptr: object,
    c_indices: object,
    c_data: object,
    c_scale: object,
    offset: int,
    /,
) -> tuple[bytearray, bytearray, bytearray]: ...
def keywords_joined(
    token_lists: Sequence[Sequence[str]], idf: dict[str, float], default_idf: float, k: int, sep: str, /
) -> list[str]: ...
def csr_dense(
    indptr: object, indices: object, data: object, dense: object, n_features: int, n_cols: int, /
) -> bytearray: ...
def segment_tokens(
    texts: Sequence[str],
    cut: Callable[..., list[str]],
    cut_args: tuple[object, ...],
    stopwords: set[str],
    onechar: bytearray,
    /,
) -> list[list[str]]: ...
def unchanged_texts(
    values: Sequence[object], bitmap: bytes, max_chars: int, translate: bytes, /
) -> list[str | None]: ...
