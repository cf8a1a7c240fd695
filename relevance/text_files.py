"""Text and CSV files as every reader of the project reads them: UTF-8 checked line by
line, and CSV through the quoting checks of `relevance.csv_checks`.

The canonical CSV reader (`relevance.readers`) and the data-set adapters
(`relevance.adapters`) both read through here, so a Latin-1 file, binary bytes named
`.csv` or a quote never closed stop the file with one `InputError` naming its line,
whatever `--format` says.

Example:

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "a.csv")
>>> _ = open(path, "w", encoding="utf-8").write('q,t\\n1,"a\\nb"\\n')
>>> list(csv_file_records(path))
[(1, 1, ['q', 't']), (2, 3, ['1', 'a\\nb'])]
"""

import csv
from typing import Iterator, List, Tuple

from relevance.csv_checks import csv_records
from relevance.errors import InputError
from relevance.lazy_tensorflow import tf

# Descriptions and landing-page text can exceed the csv module's 128 KiB default.
CSV_FIELD_LIMIT = 16 * 1024 * 1024


def text_lines(path: str) -> Iterator[Tuple[int, str]]:
    """Yield (1-based line number, decoded line) with newlines kept for the csv module;
    a line that is not UTF-8 raises InputError naming it (a leading BOM is dropped)."""
    with tf.io.gfile.GFile(path, "rb") as handle:
        for line_number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise InputError(
                    f"{path}: line {line_number} is not valid UTF-8 text ({err.reason}). "
                    "Save the file as UTF-8, and check that it really is a "
                    "text (CSV/JSONL) file."
                ) from err
            if line_number == 1:
                line = line.lstrip("\ufeff")  # Excel writes a byte-order mark
            yield line_number, line


def csv_file_records(path: str, delimiter: str = ",") -> Iterator[Tuple[int, int, List[str]]]:
    """(first line, last line, cells) of each record of the CSV file `path`; raises
    InputError for text that is not UTF-8, malformed CSV or a quote never closed."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    return csv_records((line for _, line in text_lines(path)), path, delimiter)
