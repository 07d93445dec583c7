"""Who you are on Zoom: logging in (browser, paste, device, Server-to-Server), the one client
per login this process keeps, what that login may do, and who and where you can send to
(channels, contacts, their names)."""
