"""Tests of the run stages."""
