"""Mutation testing of an implementation under test (``python -m harness mutate``)."""
