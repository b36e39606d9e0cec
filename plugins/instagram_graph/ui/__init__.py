"""The "Instagram accounts" page in the Airflow UI: an Airflow plugin (``plugin``) mounting a
FastAPI app (``accounts_app``) that shows what ``accounts_view`` gathers, as HTML
(``accounts_html``) or JSON, to users that ``auth`` lets in."""
