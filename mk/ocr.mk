# ocr module (src/ai/ocr*.c): tesseract + leptonica for OCR, poppler-glib + cairo for PDFs,
# PCRE2 for field patterns. cairo also renders the test documents (tests/support/ocr_docgen.c).
PKGS += tesseract lept poppler-glib cairo fontconfig libpcre2-8
