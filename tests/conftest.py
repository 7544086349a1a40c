"""Shared fixtures. Stages add theirs below; a small seeded province is the common ground."""

from __future__ import annotations
