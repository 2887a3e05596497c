"""veille's own MinHash: the signatures and banding datasketch 2 made, and archives signed by datasketch 1
signed again when they are upgraded."""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from storage import articles, minhash, open_archive, stories
from tests.test_stories import WIRE, item, rewrite

TEXT = "\n".join(f"Paragraphe {k} : le cloud souverain de l'État, l'offre qualifiée SecNumCloud et les données "
                 f"sensibles des ministères, hébergement numéro {k}." for k in range(5))


def test_a_signature_is_the_one_datasketch_2_made_for_the_same_text() -> None:
    # recorded from datasketch 2.0.0 (MinHash(num_perm=128, seed=1), its default "affine32" scheme)
    sig = stories.signature(TEXT, "Titre")
    assert sig is not None and sig.dtype == np.uint32 and sig.shape == (128,)
    assert sig[:4].tolist() == [89904658, 42493694, 35243744, 23463001]
    assert hashlib.blake2b(sig.tobytes(), digest_size=8).hexdigest() == "7c128656fa5da334"


def test_signatures_agree_on_about_the_jaccard_similarity_of_their_sets() -> None:
    shared = [f"commun {i}".encode() for i in range(600)]
    one = minhash.signature(shared + [f"un {i}".encode() for i in range(300)])
    other = minhash.signature(shared + [f"autre {i}".encode() for i in range(300)])
    assert stories.similarity(one, other) == pytest.approx(600 / 1200, abs=0.15)
    assert stories.similarity(one, minhash.signature(list(reversed(shared + [f"un {i}".encode()
                                                                              for i in range(300)])))) == 1.0


def test_an_empty_set_has_no_signature() -> None:
    with pytest.raises(ValueError, match="at least one"):
        minhash.signature([])


@pytest.mark.parametrize(("threshold", "banding"), [
    (0.3, (41, 2)), (0.5, (26, 3)), (0.6, (24, 4)), (0.7, (21, 6)), (0.8, (16, 8)), (0.9, (9, 14)),
    (0.997, (1, 117)),  # datasketch refused thresholds this high (fewer than 2 bands)
])
def test_the_banding_is_datasketchs_choice_for_the_threshold(threshold: float, banding: tuple[int, int]) -> None:
    # datasketch 2.0.0's MinHashLSH(threshold, num_perm=128, weights=(0.05, 0.95)) chose these, and the same
    # as ours for every threshold from 0.001 to 0.995 by steps of 0.001
    scheme = stories.scheme_for(threshold)
    assert (scheme.bands, scheme.rows) == banding


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.2])
def test_a_threshold_outside_0_1_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        minhash.banding(threshold, 0.05, 0.95)


def legacy_signature(text: str, title: str) -> bytes:
    """A signature as datasketch 1 made it (its "legacy" scheme, kept by datasketch 2 bit for bit): SHA-1's
    first 4 bytes unmixed, permuted by (a·h + b) mod 2⁶¹−1 in wrapping uint64, cut to 32 bits."""
    tokens = [w for ws in stories.body(stories.lines(text), title) for w in ws]
    hashes = np.array([int.from_bytes(hashlib.sha1(s.encode()).digest()[:4], "little")
                       for s in stories.shingles(tokens)], dtype=np.uint64)[:, None]
    random = np.random.RandomState(1)
    prime = np.uint64((1 << 61) - 1)
    a, b = np.array([(random.randint(1, prime, dtype=np.uint64), random.randint(0, prime, dtype=np.uint64))
                     for _ in range(128)], dtype=np.uint64).T
    with np.errstate(over="ignore"):
        return bytes((((hashes * a + b) % prime) & np.uint64(0xFFFFFFFF)).min(axis=0).astype(np.uint32).tobytes())


def test_an_archive_signed_by_datasketch_1_is_signed_again_and_its_stories_found(tmp_path: Path) -> None:
    path = tmp_path / "veille.db"
    db = open_archive(path)
    wire = articles.store(db, item("afp", "https://afp.fr/1", WIRE)).article_id
    with db.atomic():  # the archive as datasketch 1 left it
        title, text = db.execute("SELECT title, text FROM articles WHERE id = ?", [wire]).fetchone()
        db.execute("UPDATE story_signatures SET signature = ? WHERE article_id = ?",
                   [legacy_signature(text, title), wire])
        db.execute("DELETE FROM _migrations WHERE number = 17")
    assert stories.signed_otherwise(db.execute(
        "SELECT a.title, a.text, s.signature FROM story_signatures s JOIN articles a ON a.id = s.article_id"))
    db.close()

    db = open_archive(path)
    blob = db.execute("SELECT signature FROM story_signatures WHERE article_id = ?", [wire]).fetchone()[0]
    assert blob == stories.signature(text, title).tobytes()
    copy = articles.store(db, item("lemonde", "https://lemonde.fr/a", rewrite(WIRE), title="Autre titre"))
    assert articles.get(db, copy.article_id)["story_id"] == wire, "a copy finds the story signed before"


def test_an_archive_signed_here_is_not_signed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "veille.db"
    db = open_archive(path)
    articles.store(db, item("afp", "https://afp.fr/1", WIRE))
    with db.atomic():
        db.execute("DELETE FROM _migrations WHERE number = 17")
    db.close()
    signed: list[int] = []
    monkeypatch.setattr(stories, "resign", lambda db, article_id, *args, **kwargs: signed.append(article_id))
    open_archive(path).close()
    assert signed == []
