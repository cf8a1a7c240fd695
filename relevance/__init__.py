"""Search relevance: teacher cross-encoder, pseudo-labels and a distilled real-time student.

This package is the ground floor of the house (floor 0, see README's code map): the data
contract, readers, records and row validation, the public data set adapters, language
detection, errors and progress reports. It imports no other package of the project.
"""

__version__ = "0.1.0"
