"""The shipped config.yaml: valid, and each topic matches the articles an analyst would expect of it."""

import re
from pathlib import Path

import pytest
import yaml

from storage import open_archive
from storage.articles import store
from tests.conftest import recent, run_veille

SHIPPED = Path(__file__).parent.parent / "config.yaml"

# (slug, title, text, the topics it belongs to)
ARTICLES = [
    ("bleu-secnumcloud", "Bleu obtient enfin sa qualification",
     # an ANSSI qualification is one of the ANSSI decisions French digital policy follows
     "La coentreprise d'Orange et Capgemini a reçu le visa de l'ANSSI pour son offre.",
     {"cloud-souverain", "politique-numerique-fr"}),
    ("ciel-bleu", "Un week-end sous un ciel bleu",
     "Le soleil reviendra samedi, avec un ciel bleu sur toute la Bretagne et des bleuets dans les champs.", set()),
    ("les-bleus", "Les Bleus en finale",
     "L'équipe de France de football, en maillot bleu, a battu l'Italie ; Orange diffusait le match.", set()),
    ("clouds-europe", "Les clouds souverains européens cherchent des clients",
     "Les offres qualifiées peinent à convaincre les grandes entreprises.", {"cloud-souverain"}),
    ("s3ns", "S3NS ouvre sa région",
     "La coentreprise de Thales vise une qualification d'ici l'été.", {"cloud-souverain"}),
    ("dinum-doctrine", "La DINUM met à jour sa doctrine",
     "La direction interministérielle du numérique révise la doctrine cloud au centre.",
     {"politique-numerique-fr"}),
    ("cnil-amende", "La CNIL inflige une amende record",
     "Le régulateur sanctionne un hébergeur de données de santé de dix millions d'euros.",
     {"politique-numerique-fr"}),
    ("cnil-mention", "Un guide pour les développeurs",
     "Ce guide cite un document de la CNIL publié il y a cinq ans sur les cookies.", set()),
    ("cloud-act", "Le Cloud Act inquiète les entreprises",
     "La loi américaine permet aux autorités d'accéder à des données stockées en Europe.",
     {"extraterritorialite"}),
    ("schrems", "Après Schrems II, un nouveau recours",
     "Les transferts de données vers les États-Unis reviennent devant la Cour de justice.",
     {"extraterritorialite"}),
    ("ai-act", "Le règlement sur l'IA entre en application",
     "Les obligations de l'AI Act pour les modèles à usage général s'appliquent depuis août.",
     {"regulation-ue"}),
    ("nis2", "NIS2 : la transposition prend du retard",
     "Les entités essentielles attendent toujours le décret d'application.", {"regulation-ue"}),
    ("azure-ministere", "Un ministère signe avec Microsoft Azure",
     "Le ministère de l'Intérieur héberge une application sur Azure, ce que critiquent des députés.",
     {"hyperscalers-secteur-public"}),
    ("aws-region", "AWS ouvre une région en Espagne",
     "Le géant américain investit dans trois centres de données près de Saragosse.", set()),
    ("ugap-google", "Google Cloud référencé par l'UGAP",
     "La centrale d'achat ouvre ainsi le marché public aux services de Google Cloud.",
     {"hyperscalers-secteur-public"}),
]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("default")
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    data["storage"]["path"] = str(tmp / "veille.db")
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    db = open_archive(tmp / "veille.db")
    for slug, title, text, _ in ARTICLES:
        url = f"https://ex.test/{slug}"
        store(db, {"source": "lemagit", "url": url, "canonical_url": url, "title": title, "text": text,
                   "published": recent(24).isoformat(), "language": "fr"})
    db.close()
    return path


def test_shipped_config_checks() -> None:
    result = run_veille("config", "check", "--config", str(SHIPPED))
    assert result.returncode == 0, result.stderr
    assert re.search(r"sources: \d{2}", result.stdout)


def test_shipped_sources_stay_out_of_private_networks_and_have_names() -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    urls = [next(s[k] for k in ("feed", "page", "sitemap") if k in s) for s in data["sources"]]
    assert all(url.startswith("https://") for url in urls)


@pytest.mark.parametrize("topic", sorted({t for *_, topics in ARTICLES for t in topics}))
def test_each_topic_matches_what_it_should(config: Path, topic: str) -> None:
    result = run_veille("topics", "test", topic, "--config", str(config), "--since", "7d", "--limit", "100")
    assert result.returncode == 0, result.stderr
    found = set(re.findall(r"https://ex\.test/([\w-]+)", result.stdout))
    expected = {slug for slug, *_, topics in ARTICLES if topic in topics}
    assert found == expected, result.stdout

