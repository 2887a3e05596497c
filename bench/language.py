"""Language detection's cost per article, against the extraction it runs in (`python -m bench.language`).

    python -m bench.language [pages]    the bench site's article pages (default 300, 50–150 KB each)

Each page is extracted once (crawler.extract, timed: the baseline), then the detector (crawler.language)
is timed alone on each extracted text. Reported: the medians and 90th percentiles, and detection as a share
of extraction.
"""

import statistics
import sys
import time

from bench.site import NewsSite
from crawler.extract import extract
from crawler.language import detected_language, identifier


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    site = NewsSite.generate(feeds=max(1, pages // 50), articles=min(pages, 50))
    started = time.perf_counter()
    identifier()
    loading = time.perf_counter() - started
    extraction, detection, lengths, found = [], [], [], 0
    for article in site.articles[:pages]:
        html = article.page.decode()
        started = time.perf_counter()
        extracted = extract(html, f"http://127.0.0.1/{article.source}/{article.number}")
        extraction.append(time.perf_counter() - started)
        assert extracted is not None
        started = time.perf_counter()
        found += detected_language(extracted.text) is not None
        detection.append(time.perf_counter() - started)
        lengths.append(len(extracted.text))
    ms = 1000
    print(f"{len(detection)} article pages, main text {statistics.median(lengths):.0f} characters (median), "
          f"a language detected in {found}")
    print(f"model loading (once per forkserver): {loading:.2f} s")
    print(f"extraction (with detection):  median {statistics.median(extraction) * ms:.1f} ms, "
          f"p90 {percentile(extraction, 0.9) * ms:.1f} ms")
    print(f"language detection alone:     median {statistics.median(detection) * ms:.2f} ms, "
          f"p90 {percentile(detection, 0.9) * ms:.2f} ms")
    print(f"ratio: detection is {statistics.median(detection) / statistics.median(extraction):.1%} "
          "of an article's extraction (medians)")


if __name__ == "__main__":
    main()
