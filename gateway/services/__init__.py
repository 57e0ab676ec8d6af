"""The services the pipeline composes, one per step of a file's lifecycle.

intake (receive), decide (parse, rules, duplicates, numbering, storing), acknowledge (render
the receipt and response) and deliver; each owns its transaction boundary. The look-ups the
rules make and the JSON the document rows keep are theirs too. See docs/architecture.md.
"""
