"""Importers for the exports people already have, and for plain CSV / JSON Lines.

==================  ===========================================================================================
``mediacrawler``    NanmiCoder/MediaCrawler: weibo, xhs, douyin, kuaishou, bili, tieba, zhihu — contents,
                    comments (and creators/dynamics) as CSV, JSON or JSONL, current (``creator_hash``) and
                    pre-2026-07 (``user_id``) schemas; ``data/<platform>/<csv|json|jsonl>/`` walked
                    (:mod:`.mediacrawler`)
``weibo-crawler``   dataabc/weibo-crawler ``<user>/<uid>.csv`` and ``<uid>.json`` (:mod:`.weibo_crawler`)
``weibo-search``    dataabc/weibo-search ``结果文件/<keyword>/<keyword>.csv`` (:mod:`.weibo_search`)
``csv`` / ``jsonl`` any columns named like ``Post`` fields or mapped with ``--map FIELD=COLUMN`` (:mod:`.generic`)
``auto``            the format told from each file's columns and path (the default)
==================  ===========================================================================================

A file that cannot be read commits nothing (:func:`load_file`); generic CSV/JSON/JSON Lines records,
weibo-search, weibo-crawler CSV and MediaCrawler contents/comments load column-wise in batches of one transaction
each (:mod:`.columnar`), the others row by row in one transaction per file.  A bad row is rejected alone
with file, line and field; encodings are detected (:mod:`.files`); values parse through
:mod:`collectors.fields`.  Re-importing a file changes nothing.  See ``docs/importing.md``.
"""

from yuqing.collectors.importers.files import Row, detect_encoding, read_rows
from yuqing.collectors.importers.load import (
    FORMATS,
    FileResult,
    ImportResult,
    find_files,
    import_file,
    import_paths,
    load_file,
    read_records,
)

__all__ = [
    "FORMATS",
    "FileResult",
    "ImportResult",
    "Row",
    "detect_encoding",
    "find_files",
    "import_file",
    "import_paths",
    "load_file",
    "read_records",
    "read_rows",
]
