"""Server-rendered admin pages (Jinja2, Vietnamese first, English available, no CDN)."""
