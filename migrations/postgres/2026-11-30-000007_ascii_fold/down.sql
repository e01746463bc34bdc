DROP FUNCTION mg_ascii_lower(text);
