-- "Your devices": the name a user gives a device ("Work laptop"). NULL when
-- none was given: the list shows the name parsed from the User-Agent. Rows
-- of 0.1 keep every column and get no name.
ALTER TABLE aus_sessions ADD COLUMN name TEXT;
