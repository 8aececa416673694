"""The filter language: parse once, check per target, compile per backend."""

from trackledger.projections.search.compile import VIEW_STAGES
from trackledger.projections.search.errors import FilterError
from trackledger.projections.search.experiments import compile_experiment_search
from trackledger.projections.search.pages import (
    decode_page_token,
    decode_run_page_token,
    encode_page_token,
)
from trackledger.projections.search.parser import parse_filter, parse_order_by
from trackledger.projections.search.runs import compile_run_search
from trackledger.projections.search.sql import SqlBuilder

__all__ = [
    "VIEW_STAGES",
    "FilterError",
    "SqlBuilder",
    "compile_experiment_search",
    "compile_run_search",
    "decode_page_token",
    "decode_run_page_token",
    "encode_page_token",
    "parse_filter",
    "parse_order_by",
]
