"""Token generation and hashing (pure)."""
import hashlib

from customers import tokens


def test_generated_tokens_are_random_well_formed_and_hashed():
    first, second = tokens.generate(), tokens.generate()
    assert first.token != second.token
    assert tokens.well_formed(first.token)
    assert len(first.token) == tokens.TOKEN_LENGTH
    assert first.token_hash == hashlib.sha256(first.token.encode()).hexdigest()
    assert first.token not in first.token_hash


def test_prefix_is_a_short_start_of_the_token():
    issued = tokens.generate()
    assert issued.token.startswith(issued.prefix)
    assert issued.prefix.startswith(tokens.SCHEME)
    assert len(issued.prefix) == len(tokens.SCHEME) + tokens.PREFIX_CHARS < len(issued.token) // 2


def test_hash_is_deterministic_and_distinguishes_tokens():
    issued = tokens.generate()
    assert tokens.hash_token(issued.token) == issued.token_hash
    assert tokens.hash_token(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B")) != issued.token_hash


def test_malformed_tokens_are_refused_before_any_lookup():
    good = tokens.generate().token
    for bad in [None, 42, "", good[:-1], good + "x", "xyz_" + good[4:], good[:-1] + "!", good[:-1] + "é"]:
        assert not tokens.well_formed(bad), bad
