"""The sizes the loader reads, parses and stores by; read as ``limits.NAME`` so a test can shrink them."""

BLOCK_BYTES = 4 << 20  # read size; a chunk is this plus the rest of its last line
MAX_LINE_BYTES = 1 << 20  # longer lines are rejected (a file without newlines must not fill memory)
MAX_HEADER_BYTES = 64 << 10
# Files from this size on are hashed beside their load instead of before it (a second read would cost more).
HASH_BESIDE_LOAD_BYTES = 64 << 20
MAX_STORED_LINE_CHARS = 10_000  # raw text kept in raw.load_rejects per line
