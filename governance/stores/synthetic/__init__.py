"""Synthetic, fictional case stores for tests, demos and benchmarks.

Everything here is made up: names come from short lists, phone numbers from
Ofcom's drama ranges, postcodes from area letters no UK postcode uses, NHS
numbers from the 999 test range, e-mail at example.org. Deterministic for a
seed; streamed family by family so memory stays bounded.
"""

from governance.stores.synthetic.generator import GenerationResult, generate_store

__all__ = ["generate_store", "GenerationResult"]
