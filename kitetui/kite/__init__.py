"""The Kite account side of kitetui: credentials, the daily login, the access token.

Orders themselves go through ``kitetui.brokers.kite``; this package only knows how to
get (and keep secret) the api_secret and the day's access token (design rule 9).
"""
