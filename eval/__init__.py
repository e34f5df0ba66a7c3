"""Evaluation: question sets and public benchmarks as cases, scoring of answer records, reports.

Run through ``python -m qa eval``; nothing in the answering pipeline imports it.
"""
