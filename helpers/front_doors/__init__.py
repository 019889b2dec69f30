"""Synchronous front doors: real endpoints on loopback that invoke Lambda (API Gateway,
Application Load Balancers, function URLs, CloudFront with Lambda@Edge), on one HTTP base
(``http.py``)."""

__all__: list[str] = []
